#!/usr/bin/env bash
#
# Verifies the CUDA backend on a GPU machine that has nvcc, cuBLAS and PyTorch but no Java.
# Prepare here first:  mvn -B -pl java -am package -DskipTests && bench/gpu/make-runtime.sh
# then run this from the repository root on the GPU machine, carrying bench/gpu/runtime.tar.xz
# (unpacked into bench/gpu/runtime there).
#
# Steps, each logged under $RESULTS (default bench/results/raw/gpu-<date>/; eight files at most, so
# that the device tool brings them all back), each with a time limit:
#   1. nvidia-smi, nvcc and PyTorch versions                     env.txt
#      and the GPU's memory and load every 200 ms while the script runs   smi.log
#   2. libjnce_cuda.so built with this machine's nvcc for this GPU (the same flags as
#      cmake/JnceCuda.cmake: static CUDA runtime, no cuBLAS at link time)   build.log
#   3. cuBLAS found in PyTorch's environment (nvidia.cublas, else torch/lib, else the
#      system CUDA) and handed over through -Djnce.cublas.path
#   4. the JUnit tests tagged "cuda" (CUDA vs the cpu backend, or the pure-Java one when
#      OpenBLAS is not carried)                                      junit.log
#   5. every GPU op dumped by CudaTorchDump and recomputed by PyTorch on the same GPU,
#      forward and gradients; the timings of CudaTiming (each beside its machine limit:
#      a copy of the bytes, the GEMMs alone), N=32768 InfoNCE in each GEMM mode against float64,
#      then PyTorch's timings of the same shapes        dump.log, jnce_timing.txt, manifest.txt, torch.log
# Exit status: 0 only if the build, the tests and the comparison all pass.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."            # repository root

RT=bench/gpu/runtime
RESULTS=${RESULTS:-bench/results/raw/gpu-$(date -u +%Y%m%d-%H%M)}
BUILD=$(mktemp -d)
mkdir -p "$RESULTS"
if [[ ! -x "$RT/jdk/bin/java" && -f "$RT.tar.xz" ]]; then
    mkdir -p "$RT" && tar -C "$RT" -xJf "$RT.tar.xz"
fi
[[ -x "$RT/jdk/bin/java" ]] || { echo "verify.sh: $RT/jdk is missing; run bench/gpu/make-runtime.sh where Java is" >&2; exit 2; }
status=0

# 1. the machine
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu,clocks.sm --format=csv -lms 200 > "$RESULTS/smi.log" 2>&1 &
SMI=$!
trap 'kill $SMI 2>/dev/null' EXIT
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
{
    nvidia-smi
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
    echo "date: $(date -u)"; uname -a; nproc
    echo "nvcc: $NVCC"; "$NVCC" --version
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
    "$RT/jdk/bin/java" -version 2>&1
    echo "commit: ${JNCE_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
} > "$RESULTS/env.txt" 2>&1
cat "$RESULTS/env.txt"

# 2. build for this GPU (sm_XY from nvidia-smi) plus compute_80 PTX
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' .')
CC=${CC:-90}
ARCHS="${CC}-real,80-virtual"
if ! timeout 180 "$NVCC" -O3 -std=c++17 -shared -Xcompiler -fPIC,-Wall,-fno-math-errno,-fvisibility=hidden -cudart static \
        -gencode "arch=compute_${CC},code=sm_${CC}" -gencode arch=compute_80,code=compute_80 \
        -DJNCE_CUDA_ARCHS="\"$ARCHS\"" -Inative/include -Inative/src/cuda native/src/cuda/*.cu \
        -o "$BUILD/libjnce_cuda.so" -ldl -lpthread -Xlinker --no-undefined > "$RESULTS/build.log" 2>&1; then
    echo "verify.sh: the CUDA build failed, see $RESULTS/build.log" >&2
    cat "$RESULTS/build.log" >&2
    exit 1
fi
echo "built $BUILD/libjnce_cuda.so for sm_$CC" | tee -a "$RESULTS/build.log"

# 3. cuBLAS from PyTorch's environment
CUBLAS=$(python3 - <<'PY'
import glob, os
dirs = []
try:
    import nvidia.cublas as c
    dirs += [os.path.join(p, "lib") for p in c.__path__]
except Exception:
    pass
try:
    import torch
    dirs.append(os.path.join(os.path.dirname(torch.__file__), "lib"))
except Exception:
    pass
dirs += ["/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu"]
for d in dirs:
    hits = sorted(glob.glob(os.path.join(d, "libcublas.so.*[0-9]")))
    if hits:
        print(hits[0])
        break
PY
)
echo "cuBLAS: ${CUBLAS:-not found (GEMM tests will fail)}" | tee -a "$RESULTS/env.txt"

CP="$RT/lib/jnce.jar:$RT/lib/jnce-bindings.jar:$RT/lib/jnce-tests.jar"
for j in "$RT"/lib/openblas-*.jar; do [[ -f "$j" ]] && CP="$CP:$j"; done
JAVA=("$RT/jdk/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector
      "-Djnce.cuda.library.path=$BUILD/libjnce_cuda.so" "-Djnce.cublas.path=$CUBLAS")

# JNCE_GPU_STEP=xent: only the fused cross-entropy's kernel shapes, CudaXentProbe once per value of
# JNCE_CUDA_XENT_CLUSTER (0: the two-pass kernel; a-i: the cluster kernels' shapes, JNCE_XENT_SHAPES
# lists them)                                                                              xent.log
# then the cross-entropy and InfoNCE cuda tests with the shape that came nearest the copy at
# (8192,128000)                                                                            junit.log
if [[ "${JNCE_GPU_STEP:-}" == xent ]]; then
    for v in ${JNCE_XENT_SHAPES:-0 a b c d}; do
        JNCE_CUDA_XENT_CLUSTER=$v timeout 60 "${JAVA[@]}" -Xmx24g -cp "$CP" dev.jnce.backend.cuda.CudaXentProbe || status=1
    done > "$RESULTS/xent.log" 2>&1
    cat "$RESULTS/xent.log"
    best=$(awk '/\(8192,128000\)/ && $3 != "0" { t = $(NF-10) + 0; if (best == "" || t > bt) { best = $3; bt = t } } END { print best }' "$RESULTS/xent.log")
    echo "the shape nearest the copy at (8192,128000): ${best:-none}" | tee -a "$RESULTS/xent.log"
    if [[ -n "$best" ]]; then
        JNCE_CUDA_XENT_CLUSTER=$best timeout 120 "${JAVA[@]}" -jar "$RT/lib/junit-platform-console-standalone.jar" execute \
            --class-path "$CP" --select-class dev.jnce.backend.cuda.CudaCrossEntropyTest \
            --select-class dev.jnce.backend.cuda.CudaContrastiveTest --details=summary --disable-banner \
            > "$RESULTS/junit.log" 2>&1 || status=1
        tail -n 15 "$RESULTS/junit.log"
    fi
    rm -rf "$BUILD"
    exit $status
fi

# 4. the JUnit tests tagged "cuda"
timeout 300 "${JAVA[@]}" -jar "$RT/lib/junit-platform-console-standalone.jar" execute --class-path "$CP" \
    --scan-class-path "$RT/lib/jnce-tests.jar" --include-tag cuda --details=tree --disable-banner \
    > "$RESULTS/junit.log" 2>&1 || status=1
tail -n 15 "$RESULTS/junit.log"
if grep -Eq '\[ *[1-9][0-9]* tests aborted' "$RESULTS/junit.log" || ! grep -Eq '\[ *[1-9][0-9]* tests successful' "$RESULTS/junit.log"; then
    echo "verify.sh: cuda tests were skipped or did not run (no usable GPU?)" >&2
    status=1
fi

# 5. PyTorch against jnce on the same GPU, then timings
DUMP="$BUILD/dump"
timeout 300 "${JAVA[@]}" -Xmx24g -cp "$CP" dev.jnce.backend.cuda.CudaTorchDump "$DUMP" > "$RESULTS/dump.log" 2>&1 || status=1
cat "$RESULTS/dump.log"
PYTHONUNBUFFERED=1 timeout 200 python3 bench/gpu/compare_torch.py "$DUMP" --timing > "$RESULTS/torch.log" 2>&1 || status=1
cat "$RESULTS/torch.log"
cp "$DUMP/manifest.txt" "$DUMP/jnce_timing.txt" "$RESULTS/" 2>/dev/null

echo "verify.sh: results in $RESULTS (status $status)"
rm -rf "$BUILD"
exit $status
