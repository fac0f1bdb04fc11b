/**
 * Contrastive losses over a batch sharded across processes or threads, exact for the global batch:
 * {@link dev.jnce.distributed.ShardedInfoNce}, {@link dev.jnce.distributed.ShardedClip} and
 * {@link dev.jnce.distributed.ShardedSigLip} over a
 * {@link dev.jnce.distributed.Collective} (all-gather, reduce-scatter, all-reduce), with
 * {@link dev.jnce.distributed.InProcessCollective} (ranks as threads) and
 * {@link dev.jnce.distributed.MpiCollective} (Open MPI through FFM, ranks started by mpirun).
 */
package dev.jnce.distributed;
