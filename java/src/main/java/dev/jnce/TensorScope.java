package dev.jnce;

import java.lang.foreign.Arena;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Frees every tensor created in it. While a scope is open on a thread, every tensor that
 * thread creates (including the outputs of losses) belongs to the innermost open scope:
 *
 * <pre>{@code
 * try (TensorScope scope = TensorScope.open()) {
 *     Tensor logits = Tensor.of(data, n, c);
 *     float loss = CrossEntropy.create().forward(logits, targets).item();
 * } // logits and the loss tensor are freed here
 * }</pre>
 *
 * Scopes nest and must be closed on the thread that opened them, innermost first. Tensors of
 * a scope may be used from other threads while the scope is open; closing the scope while a
 * native call on another thread uses one of them fails with {@link IllegalStateException} and
 * leaves the scope open. Open a scope with try-with-resources: a scope that is never closed
 * keeps its memory until the JVM exits (unlike a tensor outside any scope, which a
 * {@link java.lang.ref.Cleaner} frees once it is unreachable).
 */
public final class TensorScope implements AutoCloseable {
    private static final ThreadLocal<Deque<TensorScope>> OPEN = ThreadLocal.withInitial(ArrayDeque::new);

    private final Arena arena = Arena.ofShared();
    private final List<Tensor> tensors = new ArrayList<>();
    private final Thread owner = Thread.currentThread();
    private volatile boolean closed;

    private TensorScope() {
    }

    /**
     * Opens a scope on the current thread.
     *
     * @return the new scope, innermost on this thread until closed
     */
    public static TensorScope open() {
        TensorScope scope = new TensorScope();
        OPEN.get().push(scope);
        return scope;
    }

    /** The innermost scope open on this thread, or null. */
    static TensorScope current() {
        Deque<TensorScope> open = OPEN.get();
        return open.isEmpty() ? null : open.peek();
    }

    Arena arena() {
        return arena;
    }

    void register(Tensor tensor) {
        tensors.add(tensor);
    }

    /**
     * Number of tensors created in this scope so far.
     *
     * @return the number of tensors this scope owns
     */
    public int size() {
        return tensors.size();
    }

    /** Frees every tensor of the scope. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("TensorScope: must be closed by the thread that opened it (" + owner.getName() + ")");
        }
        Deque<TensorScope> open = OPEN.get();
        if (open.peek() != this) {
            throw new IllegalStateException("TensorScope: an inner scope is still open; close scopes innermost first");
        }
        try {
            arena.close();
        } catch (IllegalStateException inUse) {
            throw new IllegalStateException("TensorScope: a tensor of this scope is in use by a call on another thread; "
                    + "the scope stays open: close it after that call returns", inUse);
        }
        open.pop();
        closed = true;
        for (Tensor t : tensors) t.closeFromScope();
        tensors.clear();
    }
}
