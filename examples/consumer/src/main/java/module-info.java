/** A program that uses jnce as a project depending on it would (see ConsumerCheck). */
module dev.jnce.consumer {
    requires dev.jnce;
}
