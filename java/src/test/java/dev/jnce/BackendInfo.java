package dev.jnce;

/**
 * The program {@link BackendProcessTest} starts in fresh JVMs: prints the backend jnce chooses
 * and why the others are unavailable; exits 0 (or throws what the forced choice threw).
 */
public final class BackendInfo {
    private BackendInfo() {
    }

    public static void main(String[] args) {
        Backend current = Backends.current();
        System.out.println("current: " + current.name() + " - " + current.description());
        for (String name : Backends.NAMES) {
            String why = Backends.unavailableReason(name);
            System.out.println(name + ": " + (why == null ? "available" : "unavailable (" + why + ")"));
        }
    }
}
