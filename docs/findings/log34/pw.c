// log34: what a 4 KiB buffered pwrite costs at fresh offsets of a file (new page-cache pages) against offsets
// already cached (rewritten), and against offsets punched out a while ago (pages given back, then new again).
// usage: pw FILE MIB SLEEP_S
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static double pass(int fd,long pages,char*b,long base){double t=now();for(long i=0;i<pages;i++){b[0]=i;if(pwrite(fd,b,4096,(base+i)*4096)!=4096){perror("pwrite");exit(1);}}return (now()-t)/pages*1e9;}
int main(int c,char**v){long pages=atol(v[2])*256;int sl=atoi(v[3]);char b[4096];memset(b,7,4096);
 int fd=open(v[1],O_RDWR|O_CREAT|O_TRUNC,0644);if(fd<0){perror("open");return 1;}
 printf("fresh offsets      %.0f ns/page\n",pass(fd,pages,b,0));
 printf("rewritten offsets  %.0f ns/page\n",pass(fd,pages,b,0));
 printf("rewritten again    %.0f ns/page\n",pass(fd,pages,b,0));
 fdatasync(fd);
 if(fallocate(fd,FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE,0,pages*4096)){perror("punch");}
 sleep(sl);
 printf("punched, %ds later %.0f ns/page\n",sl,pass(fd,pages,b,0));
 printf("fresh offsets (2)  %.0f ns/page\n",pass(fd,pages,b,pages));
 close(fd);unlink(v[1]);return 0;}
