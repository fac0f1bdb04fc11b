/**
 * Contrastive losses over a batch sharded across processes or threads, exact for the global batch:
 * {@link dev.jnce.distributed.ShardedInfoNce}, {@link dev.jnce.distributed.ShardedClip},
 * {@link dev.jnce.distributed.ShardedSigLip} and {@link dev.jnce.distributed.ShardedNtXent} (NT-Xent
 * and SupCon) over a
 * {@link dev.jnce.distributed.Collective} (all-gather, reduce-scatter, all-reduce), with
 * {@link dev.jnce.distributed.InProcessCollective} (ranks as threads) and
 * {@link dev.jnce.distributed.MpiCollective} (Open MPI through FFM, ranks started by mpirun).
 */
package dev.jnce.distributed;
