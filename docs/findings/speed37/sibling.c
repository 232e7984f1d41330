/* Session 37 (speed37): are this VM's two vCPUs two hardware threads of one core (SMT siblings)? Each mode runs
 * for SECS seconds and prints its operations per second:
 *   alu   - four independent xorshift chains: many instructions per cycle, execution-bound (SMT siblings share
 *           the core's execution units: two copies at once get far less than twice one copy's rate);
 *   chase - a dependent pointer chase over 64 MiB: latency-bound (two copies at once scale whether or not
 *           they share a core, until memory bandwidth is reached).
 * sibling.sh runs one copy on CPU 0, then one on each CPU at once. usage: sibling MODE SECS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    double secs = atof(argv[2]), t0 = now(), t;
    uint64_t ops = 0, sink = 0;
    if (!strcmp(argv[1], "alu")) {
        uint64_t a = 1, b = 2, c = 3, d = 4;
        do {
            for (int i = 0; i < 1000000; i++) {
                a ^= a << 13; a ^= a >> 7; a ^= a << 17;
                b ^= b << 13; b ^= b >> 7; b ^= b << 17;
                c ^= c << 13; c ^= c >> 7; c ^= c << 17;
                d ^= d << 13; d ^= d >> 7; d ^= d << 17;
            }
            ops += 4000000;
        } while ((t = now()) - t0 < secs);
        sink = a ^ b ^ c ^ d;
    } else {
        size_t n = (64u << 20) / sizeof(uint64_t);
        uint64_t *next = malloc(n * sizeof(uint64_t)), x = 88172645463325252ull;
        for (size_t i = 0; i < n; i++) next[i] = i;
        for (size_t i = n - 1; i > 0; i--) { /* Sattolo: one cycle through every slot */
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t j = x % i, tmp = next[i]; next[i] = next[j]; next[j] = tmp;
        }
        uint64_t p = 0;
        t0 = now();
        do {
            for (int i = 0; i < 1000000; i++) p = next[p];
            ops += 1000000;
        } while ((t = now()) - t0 < secs);
        sink = p;
    }
    printf("%s %.1f Mops/s (sink %llu)\n", argv[1], ops / (t - t0) / 1e6, (unsigned long long)(sink & 1));
    return 0;
}
