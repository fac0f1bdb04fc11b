package dev.jnce.testutil;

import dev.jnce.Backend;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.ScanKernels;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;

/**
 * A backend to pin a loss or op to (withBackend) that runs every kernel of a real backend, records
 * every tensor handed to a kernel (directly or inside a parameter record), counts the kernel calls
 * and can make the n-th one fail instead of running — with a RuntimeException or an Error — as a
 * kernel that rejects a value, or a native error, would. The argument checks' value scans
 * ({@link ScanKernels}) run unrecorded and never fail: they are not kernels of the call.
 */
public final class FailingKernels {
    /** The failure a kernel call was made to throw. */
    public static final class InjectedFailure extends RuntimeException {
        InjectedFailure(int call) {
            super("injected failure of kernel call " + call);
        }
    }

    private final Kernels real;
    private final List<Seen> seen = new ArrayList<>();
    private int calls;
    private int failAt = Integer.MAX_VALUE;
    private boolean asError;

    public FailingKernels(Backend real) {
        this.real = (Kernels) real;
    }

    /** Makes kernel call {@code call} (1-based, counted from now) fail; asError: with an OutOfMemoryError. */
    public FailingKernels failAt(int call, boolean asError) {
        this.failAt = call;
        this.asError = asError;
        this.calls = 0;
        seen.clear();
        return this;
    }

    /** Lets every kernel call run, counted from now. */
    public FailingKernels failNever() {
        return failAt(Integer.MAX_VALUE, false);
    }

    /** Kernel calls made since the last failAt/failNever. */
    public int calls() {
        return calls;
    }

    /**
     * A tensor handed to a kernel: what it was, and the scope of its memory (shared by its views),
     * alive until that memory is freed.
     */
    public record Seen(String tensor, MemorySegment.Scope memory, Tensor handle) {
    }

    /** Every tensor handed to a kernel since the last failAt/failNever. */
    public List<Seen> seen() {
        return List.copyOf(seen);
    }

    /** The backend to pin to. */
    public Backend backend() {
        return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class}, this::top);
    }

    private Object top(Object proxy, Method m, Object[] args) throws Throwable {
        if (m.getName().equals("toString") && args == null) return "failing(" + real.name() + ")";
        if (m.getName().equals("hashCode") && args == null) return System.identityHashCode(proxy);
        if (m.getName().equals("equals") && args != null && args.length == 1) return proxy == args[0];
        Object result = call(real, m, args);
        Class<?> type = m.getReturnType();
        if (args != null || !type.isInterface() || !type.getPackageName().equals(Kernels.class.getPackageName())
                || result instanceof ScanKernels) {
            return result;
        }
        InvocationHandler family = (p, fm, fa) -> kernel(result, fm, fa);
        return Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, family);
    }

    private Object kernel(Object family, Method m, Object[] args) throws Throwable {
        if (m.getDeclaringClass() == Object.class) return call(family, m, args);
        if (args != null) for (Object a : args) record(a);
        calls++;
        if (calls == failAt) {
            if (asError) throw new OutOfMemoryError("injected failure of kernel call " + calls);
            throw new InjectedFailure(calls);
        }
        return call(family, m, args);
    }

    private void record(Object a) throws ReflectiveOperationException {
        if (a instanceof Tensor t) {
            seen.add(new Seen(t.describe(), t.segment().scope(), t));
        } else if (a != null && a.getClass().isRecord()) {
            for (RecordComponent c : a.getClass().getRecordComponents()) record(c.getAccessor().invoke(a));
        }
    }

    private static Object call(Object target, Method m, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
