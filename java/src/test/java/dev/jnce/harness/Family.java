package dev.jnce.harness;

/** A family of ops the fuzzer calls: one case per {@link #run}, which must end in {@link Case#run}. */
public interface Family {
    /** Relative share of the cases. */
    int weight();

    void run(Case c);
}
