package dev.jnce.spi;

/** A backend that must hear of a new thread count (its native pool, OpenBLAS). */
public interface ThreadsListener {
    void threadsChanged(int threads);
}
