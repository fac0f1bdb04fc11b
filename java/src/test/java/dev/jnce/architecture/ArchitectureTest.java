package dev.jnce.architecture;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The library's layering, read from its compiled classes (every class each class file's
 * constant pool names, descriptors included): no package cycle, and the rules
 * <ul>
 * <li>{@code backend} (kernel interfaces), {@code backend.*} and {@code internal} never depend on
 *     {@code loss}, {@code ops} or {@code metrics};</li>
 * <li>the core types ({@code dev.jnce}) never depend on {@code backend}, {@code backend.*},
 *     {@code internal} or {@code bindings} (backends are found by class name);</li>
 * <li>kernel interfaces ({@code dev.jnce.backend}) depend on core types alone (and the core's
 *     {@code spi} hooks);</li>
 * <li>{@code loss}, {@code ops} and {@code metrics} never name a backend implementation, nor reach tensor memory
 *     ({@code MemorySegment}, {@code ValueLayout}).</li>
 * </ul>
 */
class ArchitectureTest {
    private static final String ROOT = "dev.jnce";
    private static final Pattern CLASS_IN_DESCRIPTOR = Pattern.compile("L([\\w/$]+);");
    /** package -> packages it depends on (library packages only). */
    private static final Map<String, Set<String>> DEPENDS = new TreeMap<>();
    /** package -> every class (any package) its classes name. */
    private static final Map<String, Set<String>> NAMES = new TreeMap<>();

    @BeforeAll
    static void readClasses() throws IOException, URISyntaxException {
        Path classes = Path.of(dev.jnce.Tensor.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(Files.isDirectory(classes), "expected the compiled library classes in a folder, got " + classes);
        List<Path> files;
        try (Stream<Path> s = Files.walk(classes)) {
            files = s.filter(p -> p.toString().endsWith(".class") && !p.endsWith("module-info.class")).toList();
        }
        for (Path f : files) {
            ClassModel model = ClassFile.of().parse(f);
            String pkg = packageOf(model.thisClass().asInternalName().replace('/', '.'));
            Set<String> named = NAMES.computeIfAbsent(pkg, k -> new TreeSet<>());
            for (PoolEntry e : model.constantPool()) {
                if (e instanceof ClassEntry c) {
                    addName(named, c.asInternalName());
                } else if (e instanceof Utf8Entry u) {
                    Matcher m = CLASS_IN_DESCRIPTOR.matcher(u.stringValue());
                    while (m.find()) addName(named, m.group(1));
                }
            }
        }
        NAMES.forEach((pkg, named) -> {
            Set<String> deps = DEPENDS.computeIfAbsent(pkg, k -> new TreeSet<>());
            for (String n : named) {
                String p = packageOf(n);
                if (p.startsWith(ROOT) && !p.equals(pkg)) deps.add(p);
            }
        });
        assertTrue(DEPENDS.containsKey("dev.jnce.loss"), "no classes of dev.jnce.loss found under " + classes);
    }

    private static void addName(Set<String> named, String internalName) {
        String n = internalName.replace('/', '.');
        while (n.startsWith("[")) n = n.substring(1);
        if (n.startsWith("L") && n.endsWith(";")) n = n.substring(1, n.length() - 1);
        int nested = n.indexOf('$');
        named.add(nested >= 0 ? n.substring(0, nested) : n);
    }

    private static String packageOf(String className) {
        int dot = className.lastIndexOf('.');
        return dot < 0 ? "" : className.substring(0, dot);
    }

    @Test
    void noPackageCycles() {
        List<List<String>> cycles = new ArrayList<>();
        for (List<String> scc : stronglyConnected()) if (scc.size() > 1) cycles.add(scc);
        assertEquals(List.of(), cycles, "package cycles (each list is a strongly connected set); dependencies: " + DEPENDS);
    }

    @Test
    void backendsAndInternalsNeverDependOnLossesOrOps() {
        for (String pkg : DEPENDS.keySet()) {
            if (!(pkg.startsWith("dev.jnce.backend") || pkg.startsWith("dev.jnce.internal") || pkg.startsWith("dev.jnce.spi"))) continue;
            for (String dep : DEPENDS.get(pkg)) {
                assertFalse(dep.startsWith("dev.jnce.loss") || dep.startsWith("dev.jnce.ops") || dep.startsWith("dev.jnce.metrics")
                                || dep.startsWith("dev.jnce.distributed"),
                        pkg + " depends on " + dep);
            }
        }
    }

    @Test
    void coreTypesNeverDependOnBackendsOrInternals() {
        for (String dep : DEPENDS.get(ROOT)) {
            assertTrue(dep.equals("dev.jnce.spi"), "dev.jnce (core) depends on " + dep + "; core may use dev.jnce.spi alone");
        }
    }

    @Test
    void kernelInterfacesUseCoreTypesAlone() {
        for (String dep : DEPENDS.get("dev.jnce.backend")) {
            assertTrue(dep.equals(ROOT) || dep.equals("dev.jnce.spi"), "dev.jnce.backend (kernel interfaces) depends on " + dep);
        }
    }

    @Test
    void lossesAndOpsNeitherNameImplementationsNorTouchMemory() {
        for (String pkg : List.of("dev.jnce.loss", "dev.jnce.ops", "dev.jnce.metrics", "dev.jnce.distributed")) {
            for (String dep : DEPENDS.get(pkg)) {
                assertFalse(dep.startsWith("dev.jnce.backend.") || dep.equals("dev.jnce.bindings") || dep.equals("dev.jnce.spi"),
                        pkg + " depends on " + dep);
            }
            for (String n : NAMES.get(pkg)) {
                assertFalse(n.equals("java.lang.foreign.MemorySegment") || n.equals("java.lang.foreign.ValueLayout"),
                        pkg + " names " + n + ": tensor memory is the backends' and Tensor's alone");
            }
        }
    }

    /** Tarjan's strongly connected components of the package graph. */
    private static List<List<String>> stronglyConnected() {
        Map<String, Integer> index = new HashMap<>(), low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<List<String>> out = new ArrayList<>();
        int[] counter = {0};
        for (String v : DEPENDS.keySet()) if (!index.containsKey(v)) connect(v, index, low, stack, onStack, out, counter);
        return out;
    }

    private static void connect(String v, Map<String, Integer> index, Map<String, Integer> low, Deque<String> stack,
                                Set<String> onStack, List<List<String>> out, int[] counter) {
        index.put(v, counter[0]);
        low.put(v, counter[0]++);
        stack.push(v);
        onStack.add(v);
        for (String w : DEPENDS.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                connect(w, index, low, stack, onStack, out, counter);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> scc = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                scc.add(w);
            } while (!w.equals(v));
            out.add(scc);
        }
    }
}
