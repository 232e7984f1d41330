// Session 40 (speed40): plays back the writes, syncs and punches of one run of ours (iocause.py's .replay trace)
// on a copy of the same database, at the same times, from one thread per thread of the run that issued them: the
// logs' writes buffered (pwrite), the data files' page writes O_DIRECT (pwrite on an O_DIRECT descriptor: ours go
// through io_uring, so the submission differs, the device's requests do not), fdatasync where the run synced a
// file (its logs' fdatasyncs and the data files' io_uring syncs alike), the log cuts' punches
// (fallocate PUNCH_HOLE|KEEP_SIZE). No CPU work besides the system calls: the I/O alone.
// usage: replay TRACE DBDIR [LOOPS]   (LOOPS times through the trace back to back, default 1; 0 = until SIGINT)
// Prints, per loop, the operations done and how late they ran (a thread behind its trace issues at once).
// Build: gcc -O2 -pthread -o replay replay.c
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct { double t; char op; int file; long off, len; } Op;
typedef struct { int tid; Op *ops; int n, cap; double maxlag, sumlag; long done; } Thr;

static char names[64][64];
static int nfiles, fdb[64], fdd[64];
static Thr thr[256];
static int nthr, loops = 1;
static double span;
static struct timespec start;
static char *buf;

static int file_id(const char *name, const char *dir) {
  for (int i = 0; i < nfiles; i++) if (!strcmp(names[i], name)) return i;
  if (nfiles == 64) { fprintf(stderr, "too many files\n"); exit(1); }
  char p[4096];
  snprintf(p, sizeof p, "%s/bufpool-btree/%s", dir, name);
  strcpy(names[nfiles], name);
  fdb[nfiles] = open(p, O_RDWR);
  fdd[nfiles] = open(p, O_RDWR | O_DIRECT);
  if (fdb[nfiles] < 0 || fdd[nfiles] < 0) { perror(p); exit(1); }
  return nfiles++;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (ts.tv_sec - start.tv_sec) + (ts.tv_nsec - start.tv_nsec) / 1e9;
}

static void *run(void *arg) {
  Thr *th = arg;
  for (int l = 0; loops == 0 || l < loops; l++) {
    for (int i = 0; i < th->n; i++) {
      Op *o = &th->ops[i];
      double at = l * span + o->t, d = at - now();
      if (d > 0) {
        struct timespec ts = start;
        long ns = (long)((at - (long)at) * 1e9) + start.tv_nsec;
        ts.tv_sec += (long)at + ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
      } else {
        if (-d > th->maxlag) th->maxlag = -d;
        th->sumlag -= d;
      }
      long r = 0;
      switch (o->op) {
      case 'w': r = pwrite(fdb[o->file], buf, o->len, o->off); break;
      case 'd': r = pwrite(fdd[o->file], buf, o->len, o->off); break;
      case 's': r = fdatasync(fdb[o->file]); break;
      case 'p': r = fallocate(fdb[o->file], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, o->off, o->len); break;
      }
      if (r < 0) { fprintf(stderr, "%c %s %ld %ld: %s\n", o->op, names[o->file], o->off, o->len, strerror(errno)); }
      th->done++;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: replay TRACE DBDIR [LOOPS]\n"); return 2; }
  if (argc > 3) loops = atoi(argv[3]);
  FILE *f = fopen(argv[1], "r");
  if (!f) { perror(argv[1]); return 1; }
  double t; int tid; char op[4], name[64]; long off, len, maxlen = 4096;
  while (fscanf(f, "%lf %d %3s %63s %ld %ld", &t, &tid, op, name, &off, &len) == 6) {
    int k;
    for (k = 0; k < nthr && thr[k].tid != tid; k++) {}
    if (k == nthr) { if (nthr == 256) return 1; thr[nthr++].tid = tid; }
    Thr *th = &thr[k];
    if (th->n == th->cap) { th->cap = th->cap ? 2 * th->cap : 1024; th->ops = realloc(th->ops, th->cap * sizeof(Op)); }
    th->ops[th->n++] = (Op){t, op[0], file_id(name, argv[2]), off, len};
    if (len > maxlen && op[0] != 'p') maxlen = len;
    if (t > span) span = t;
  }
  span = span < 1 ? 1 : span + 0.001;
  if (posix_memalign((void **)&buf, 4096, (maxlen + 4095) & ~4095L)) return 1;
  for (long i = 0; i < maxlen; i++) buf[i] = (char)(i * 131 + 7);
  clock_gettime(CLOCK_MONOTONIC, &start);
  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGINT);
  pthread_sigmask(SIG_BLOCK, &ss, NULL);  // LOOPS = 0: SIGINT ends it, with the report
  pthread_t pt[256];
  for (int k = 0; k < nthr; k++) pthread_create(&pt[k], NULL, run, &thr[k]);
  if (loops == 0) { int sig; sigwait(&ss, &sig); }
  else for (int k = 0; k < nthr; k++) pthread_join(pt[k], NULL);
  for (int k = 0; k < nthr; k++)
    printf("thread %d: %ld ops, max lag %.3f s, mean lag %.6f s\n", thr[k].tid, thr[k].done, thr[k].maxlag,
           thr[k].done ? thr[k].sumlag / thr[k].done : 0);
  printf("span %.3f s, took %.3f s\n", span, now());
  return 0;
}
