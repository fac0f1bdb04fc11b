package dev.jnce.bench;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The floor under {@link NativeLoadProbe}: how long the JDK itself takes, in a fresh JVM, from
 * main to the return of a first FFM downcall (libc's getpid) - what any FFM library pays before
 * its own work. bench/scripts/native_load.sh runs it beside the probe.
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp benchmarks.jar dev.jnce.bench.FfmFloorProbe</pre>
 * Prints {@code ready_ms 0 pid}.
 */
public final class FfmFloorProbe {
    private FfmFloorProbe() {
    }

    public static void main(String[] args) throws Throwable {
        long start = System.nanoTime();
        Linker linker = Linker.nativeLinker();
        MethodHandle getpid = linker.downcallHandle(linker.defaultLookup().find("getpid").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT));
        int pid = (int) getpid.invokeExact();
        long ready = System.nanoTime();
        System.out.printf("%.1f 0 %d%n", (ready - start) / 1e6, pid);
    }
}
