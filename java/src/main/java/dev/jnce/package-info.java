/**
 * The core of jnce: tensors, devices and the choice of backend.
 *
 * <ul>
 *   <li>{@link dev.jnce.Tensor}: an off-heap, row-major array of {@link dev.jnce.DType}
 *   float32, int32 or int64 values on a {@link dev.jnce.Device} (the host or a CUDA GPU). A
 *   tensor is {@link java.lang.AutoCloseable}: close it, or make it inside a
 *   {@link dev.jnce.TensorScope}, which frees everything made in it. Views ({@code rows},
 *   {@code reshape}) and wrapped caller memory ({@code wrap}) copy nothing and own nothing.</li>
 *   <li>{@link dev.jnce.Backend} and {@link dev.jnce.Backends}: {@code cpu} (native kernels on
 *   OpenBLAS), {@code java} (pure Java, Vector API when present) and {@code cuda}. A call runs
 *   where its tensors live, unless a backend is forced ({@code -Djnce.backend},
 *   {@code JNCE_BACKEND}, {@link dev.jnce.Backends#use(String)}) or a loss is pinned to one.</li>
 *   <li>{@link dev.jnce.Reduction}: how per-row losses are combined, as PyTorch's
 *   {@code reduction}.</li>
 * </ul>
 *
 * <p>Exceptions, everywhere in jnce: a caller's mistake (shape, dtype, device, a value out of
 * range, overlapping outputs) is an {@link java.lang.IllegalArgumentException} whose message names
 * the argument and the shapes seen and expected; a closed tensor, freed memory or memory of
 * another thread's confined arena is an {@link java.lang.IllegalStateException}; a failure inside
 * native code is a {@link dev.jnce.JnceException}; a backend asked for by name that cannot load
 * is a {@link dev.jnce.BackendUnavailableException} carrying the reason.
 *
 * <p>Pitfalls: a tensor made outside a scope and never closed holds native memory until the
 * garbage collector finds it (a {@link java.lang.ref.Cleaner} frees it then); a view or a
 * {@link dev.jnce.Tensor#segment()} must not be used after its tensor is closed; writing a tensor
 * from one thread while another reads it is a data race jnce does not detect.
 */
package dev.jnce;
