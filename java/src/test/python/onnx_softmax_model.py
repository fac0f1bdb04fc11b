#!/usr/bin/python3
"""A one-node ONNX model for the ONNX Runtime interop test: Y = Softmax(X, axis=-1).

Writes java/src/test/resources/onnx/softmax.onnx (read by
dev.jnce.OnnxRuntimeInteropTest): input X and output Y, float32 of shape
(N, C) with both dimensions dynamic, opset 13.

Run with Debian's python3-onnx (apt-get install python3-onnx):

    /usr/bin/python3 java/src/test/python/onnx_softmax_model.py
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "onnx", "softmax.onnx"))


def main():
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", "C"])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", "C"])
    node = helper.make_node("Softmax", ["X"], ["Y"], axis=-1)
    graph = helper.make_graph([node], "softmax", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="jnce golden")
    model.ir_version = 7
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    onnx.save(model, OUT)


if __name__ == "__main__":
    main()
