package dev.jnce.demo;

import dev.jnce.Backend;
import dev.jnce.Backends;

/** Prints the backend jnce chooses here and why the others are unavailable; exits 0. */
public final class Info {
    private Info() {
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
