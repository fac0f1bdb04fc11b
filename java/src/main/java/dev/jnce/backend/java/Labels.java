package dev.jnce.backend.java;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Grouping by label, for the label targets of the Java cross-entropy kernels. */
final class Labels {
    private Labels() {
    }

    /** Each label's indices into labels, in increasing order. */
    static Map<Long, int[]> indicesByLabel(long[] labels) {
        Map<Long, List<Integer>> lists = new HashMap<>();
        for (int i = 0; i < labels.length; i++) lists.computeIfAbsent(labels[i], l -> new ArrayList<>()).add(i);
        Map<Long, int[]> out = new HashMap<>();
        lists.forEach((l, indices) -> out.put(l, indices.stream().mapToInt(Integer::intValue).toArray()));
        return out;
    }
}
