package dev.jnce.harness;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The one place that lists the expectations the library does not meet yet. A case of such a
 * class still runs (unless running it can take the JVM down), but its failure is tallied apart,
 * as "known-open", instead of failing the run. {@code -Djnce.fuzz.enforce=NAME,NAME} (or
 * {@code all}) enforces classes again, and runs the ones that crash: do it once the fix is in.
 * The summary lists, per class, how many cases failed and how many passed, so a class whose
 * cases all pass is ready to be enforced.
 */
public enum KnownOpen {
    // None open: every expectation the harness checks holds. A new class goes here, with what the
    // library should do, the observed effect and whether it can crash the JVM, until its fix lands;
    // then it is deleted with its tags, and its regression test stays.
    ;

    /** Whether a case of this class can take the JVM down: such cases run only when the class is enforced. */
    public final boolean crashes;

    KnownOpen(boolean crashes) {
        this.crashes = crashes;
    }

    /** The classes -Djnce.fuzz.enforce names (comma-separated, or "all"). */
    static Set<KnownOpen> enforced(String property) {
        Set<KnownOpen> set = EnumSet.noneOf(KnownOpen.class);
        if (property == null || property.isBlank()) return set;
        for (String name : property.split(",")) {
            String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
            if (n.isEmpty()) continue;
            if (n.equals("ALL")) return EnumSet.allOf(KnownOpen.class);
            set.add(KnownOpen.valueOf(n));
        }
        return set;
    }
}
