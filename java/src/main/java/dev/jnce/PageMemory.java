package dev.jnce;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Large host tensors straight from the kernel's pages: {@code mmap} an anonymous mapping, ask for
 * transparent huge pages ({@code madvise(MADV_HUGEPAGE)}) and {@code munmap} it when the owning
 * arena closes.
 *
 * <p>Why: {@link Arena#allocate} zeroes what malloc returns on the calling thread, and malloc
 * hands out fresh 4 KiB pages, each faulted in on first touch. A 125 MiB gradient made that way
 * cost about 0.4 s on a 2-core VM (32,000 page faults at several microseconds each in a
 * paravirtualised guest, plus a single-threaded zeroing pass) - 10% of a linear cross-entropy
 * step. An anonymous mapping is zero already, and with huge pages it faults 512 times fewer.
 *
 * <p>Used on Linux only, for {@link #MIN_BYTES} or more; elsewhere, where the mapping fails, or
 * with {@code -Djnce.tensor.pages=false}, {@link #allocate} falls back to the arena's own
 * allocation. Where transparent huge pages are off ({@code never}), the mapping still saves the
 * zeroing pass; the page faults then happen in the threads that first write the tensor.
 */
final class PageMemory {
    /** Requests of at least this many bytes are mapped (a few huge pages; below, malloc is as good). */
    static final long MIN_BYTES = 4L << 20;
    private static final long HUGE_PAGE = 2L << 20;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null;
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (os.contains("linux") && !"false".equals(System.getProperty("jnce.tensor.pages"))) {
            try {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(), FunctionDescriptor.of(
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            } catch (RuntimeException unavailable) { // no such symbol, or native access refused
                mmap = munmap = madvise = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
    }

    private PageMemory() {
    }

    /**
     * {@code bytes} of zeroed memory, aligned to at least {@code alignment} (a power of two up to
     * 2 MiB), freed when {@code arena} closes.
     */
    static MemorySegment allocate(Arena arena, long bytes, long alignment) {
        if (MMAP == null || bytes < MIN_BYTES || alignment > HUGE_PAGE) return arena.allocate(Math.max(bytes, 1), alignment);
        long length = bytes + HUGE_PAGE; // room to start on a huge-page boundary
        MemorySegment base;
        try {
            base = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, length, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
        } catch (Throwable t) {
            return arena.allocate(bytes, alignment);
        }
        long address = base.address();
        if (address == -1L || address == 0L) return arena.allocate(bytes, alignment); // MAP_FAILED
        long start = (address + HUGE_PAGE - 1) & -HUGE_PAGE;
        long used = (bytes + HUGE_PAGE - 1) & -HUGE_PAGE;
        try {
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), used, MADV_HUGEPAGE); // a hint only
        } catch (Throwable ignored) {
            // the kernel may refuse the hint (THP compiled out); the mapping works as it is
        }
        return MemorySegment.ofAddress(start).reinterpret(bytes, arena, segment -> unmap(address, length));
    }

    private static void unmap(long address, long length) {
        try {
            int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap failed", t);
        }
    }
}
