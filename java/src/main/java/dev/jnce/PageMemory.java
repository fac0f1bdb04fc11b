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
    private static final MethodHandle MMAP, MUNMAP, MADVISE, MALLOC, FREE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null, malloc = null, free = null;
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            malloc = linker.downcallHandle(libc.find("malloc").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            free = linker.downcallHandle(libc.find("free").orElseThrow(), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
        } catch (RuntimeException unavailable) { // no such symbol, or native access refused
            malloc = free = null;
        }
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
        MALLOC = malloc;
        FREE = free;
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

    /**
     * {@code bytes} of memory <em>not</em> zeroed (what malloc returns: fresh pages, or memory
     * freed earlier in this process), aligned to {@code alignment} (a power of two up to 4 KiB), freed
     * when {@code arena} closes; zeroed memory from the arena where malloc cannot be reached. For
     * memory whose every byte is written before it is read.
     */
    static MemorySegment allocateUnzeroed(Arena arena, long bytes, long alignment) {
        if (MALLOC == null || alignment > 4096) return arena.allocate(Math.max(bytes, 1), alignment);
        MemorySegment base;
        try {
            base = (MemorySegment) MALLOC.invokeExact(Math.max(bytes, 1) + alignment);
        } catch (Throwable t) {
            return arena.allocate(Math.max(bytes, 1), alignment);
        }
        long address = base.address();
        if (address == 0L) return arena.allocate(Math.max(bytes, 1), alignment);
        long start = (address + alignment - 1) & -alignment;
        return MemorySegment.ofAddress(start).reinterpret(bytes, arena, segment -> free(address));
    }

    private static void free(long address) {
        try {
            FREE.invokeExact(MemorySegment.ofAddress(address));
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }

    private static void unmap(long address, long length) {
        try {
            int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap failed", t);
        }
    }
}
