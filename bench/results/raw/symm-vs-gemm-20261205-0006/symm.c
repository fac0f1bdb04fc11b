#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>
#include "jnce.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc,char**argv){
  long n=atol(argv[1]),d=atol(argv[2]);int reps=atoi(argv[3]);
  jnce_set_num_threads(2);
  float *x=malloc(4*n*d),*f=malloc(4*n*d),*g=malloc(4*n*d),*s=aligned_alloc(2<<20,4*n*n),loss;
  for(long k=0;k<n*d;k++)x[k]=(float)rand()/RAND_MAX-0.5f;
  for(long k=0;k<n*n;k++)s[k]=0;
  double full=1e9,lower=1e9,gemm=1e9,symm=1e9;
  for(int r=0;r<reps;r++){
    jnce_l2_normalize_fwd(x,n,d,1e-12f,f);
    jnce_ssyrk(n,d,14.28f,f,d,s,n);
    unsetenv("JNCE_EXP_LOWER_ONLY");
    double t0=now(); jnce_symmetric_xent_fwd_bwd(s,n,n,n/2,1,0,JNCE_REDUCTION_MEAN,&loss,s); double t1=now();
    double t2=now(); jnce_sgemm(0,0,n,d,n,14.28f,s,n,f,d,0.0f,g,d); double t3=now();
    jnce_ssyrk(n,d,14.28f,f,d,s,n);
    setenv("JNCE_EXP_LOWER_ONLY","1",1);
    double t4=now(); jnce_symmetric_xent_fwd_bwd(s,n,n,n/2,1,0,JNCE_REDUCTION_MEAN,&loss,s); double t5=now();
    double t6=now(); cblas_ssymm(CblasRowMajor,CblasLeft,CblasLower,n,d,14.28f,s,n,f,d,0.0f,g,d); double t7=now();
    if(t1-t0<full)full=t1-t0; if(t3-t2<gemm)gemm=t3-t2; if(t5-t4<lower)lower=t5-t4; if(t7-t6<symm)symm=t7-t6;
  }
  printf("N=%ld D=%ld: xent fwd+bwd full %.3f lower-only %.3f; sgemm %.3f ssymm %.3f; full+gemm %.3f lower+symm %.3f\n",n,d,full,lower,gemm,symm,full+gemm,lower+symm);
}
