// perf29: does a thread run slower when the other core is busy too? (the VM's 2 vCPUs)
// usage: cores SIZE_KIB ITERS  -- random pointer chase over a private array (a dependent load per step) then an
// ALU loop; prints ns a step of each. Run 1 copy, then 2 copies at once (one per core), and compare.
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  size_t n=(size_t)atol(argv[1])*1024/sizeof(size_t); long it=atol(argv[2]);
  size_t*a=malloc(n*sizeof(size_t)); size_t*p=malloc(n*sizeof(size_t));
  for(size_t i=0;i<n;i++)p[i]=i;
  uint64_t s=88172645463325252ull;
  for(size_t i=n-1;i>0;i--){s^=s<<13;s^=s>>7;s^=s<<17;size_t j=s%(i+1);size_t t=p[i];p[i]=p[j];p[j]=t;}
  for(size_t i=0;i<n;i++)a[p[i]]=p[(i+1)%n];
  size_t x=0; for(size_t i=0;i<n;i++)x=a[x];
  double t0=now(); for(long i=0;i<it;i++)x=a[x]; double t1=now();
  uint64_t y=x; for(long i=0;i<it;i++){y=y*6364136223846793005ull+1442695040888963407ull;y^=y>>29;} double t2=now();
  printf("chase %zu KiB: %.2f ns/step  alu: %.3f ns/step  (%zu %llu)\n",n*sizeof(size_t)/1024,(t1-t0)*1e9/it,(t2-t1)*1e9/it,x,(unsigned long long)y);
  return 0;}
