# EXPERIMENT (session 12): one ONNX graph = the bundle's controller + every hot path (If chains in the cells where
# they differ), selected in-graph from the controller's probabilities. Outputs: y (logits), p (probabilities),
# covered (1 when the image's resolved path is one the graph holds). One session run per image at batch 1.
import json, sys
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

bundle, out = sys.argv[1], sys.argv[2]
min_share = float(sys.argv[3]) if len(sys.argv) > 3 else 0.001  # hot paths below this share stay out (their Ifs cost every image)
m = json.load(open(f"{bundle}/manifest.json"))
cells = m["graph"]["cells"]
C, O = len(cells), max(len(c["options"]) for c in cells)
ALPH = "0123456789abcdefghijklmnopqrstuv"
hot = [h["code"] for h in m["hotPaths"] if h["share"] >= min_share]
masks = [[ALPH.index(ch) for ch in code] for code in hot]
sets = [sorted({mk[i] for mk in masks}) for i in range(C)]  # per cell: the resolved option masks hot paths use

def inline(mod_file, prefix, x_name, y_name):
    g = onnx.load(f"{bundle}/{mod_file}").graph
    ren = lambda n: x_name if n == g.input[0].name else (y_name if n == g.output[0].name else (f"{prefix}/{n}" if n else n))
    nodes = []
    for nd in g.node:
        n2 = onnx.NodeProto(); n2.CopyFrom(nd)
        del n2.input[:]; n2.input.extend([ren(i) for i in nd.input])
        del n2.output[:]; n2.output.extend([ren(o) for o in nd.output])
        n2.name = f"{prefix}/{nd.name}"; nodes.append(n2)
    inits = []
    for t in g.initializer:
        t2 = onnx.TensorProto(); t2.CopyFrom(t); t2.name = f"{prefix}/{t.name}"; inits.append(t2)
    return nodes, inits

def mask_set(ci, mask, x_name, y_name, tag):
    s = [o for o in range(O) if (mask >> o) & 1]
    if not s:
        return [helper.make_node("Identity", [x_name], [y_name], name=f"{tag}/id")], []
    nodes, inits, outs = [], [], []
    for o in s:
        yo = y_name if len(s) == 1 else f"{tag}/o{o}"
        n, i = inline(cells[ci]["options"][o]["file"], f"{tag}/o{o}", x_name, yo); nodes += n; inits += i; outs.append(yo)
    acc = outs[0]
    for k, o2 in enumerate(outs[1:]):
        nxt = y_name if k == len(outs) - 2 else f"{tag}/sum{k}"
        nodes.append(helper.make_node("Add", [acc, o2], [nxt], name=f"{tag}/add{k}")); acc = nxt
    return nodes, inits

c = lambda name, arr: numpy_helper.from_array(np.asarray(arr), name)
nodes, inits = [], []
n, i = inline(m["controller"]["file"], "ctrl", "x", "p"); nodes += n; inits += i
ident = [list(cc["inputShape"][1:]) == list(cc["outputShape"][1:]) for cc in cells]
K = max(len(s) for s in sets)
inits += [c("k/shape", np.array([C, O], np.int64)), c("k/half", np.array(m["controller"]["threshold"], np.float32)),
          c("k/pow2", np.array([1 << o for o in range(O)], np.float32)), c("k/zero", np.array(0, np.float32)),
          c("k/changes", np.array([not x for x in ident])),
          c("k/default", np.array([1 << cc["defaultOption"] for cc in cells], np.float32)),
          c("k/allowed", np.array([s + [-1] * (K - len(s)) for s in sets], np.float32)),
          c("k/one", np.array([1], np.int64))]
nodes += [
    helper.make_node("Reshape", ["p", "k/shape"], ["d/p2"]),
    helper.make_node("GreaterOrEqual", ["d/p2", "k/half"], ["d/on"]),
    helper.make_node("Cast", ["d/on"], ["d/onf"], to=TensorProto.FLOAT),
    helper.make_node("Mul", ["d/onf", "k/pow2"], ["d/bits"]),
    helper.make_node("ReduceSum", ["d/bits", "k/one"], ["d/raw"], keepdims=0),  # [C]
    helper.make_node("Equal", ["d/raw", "k/zero"], ["d/empty"]),
    helper.make_node("And", ["d/empty", "k/changes"], ["d/usedef"]),
    helper.make_node("Where", ["d/usedef", "k/default", "d/raw"], ["d/res"]),  # [C] resolved masks
    helper.make_node("Unsqueeze", ["d/res", "k/one"], ["d/res2"]),
    helper.make_node("Equal", ["d/res2", "k/allowed"], ["d/eq"]),  # [C, K]
    helper.make_node("Cast", ["d/eq"], ["d/eqf"], to=TensorProto.FLOAT),
    helper.make_node("ReduceMax", ["d/eqf"], ["d/cellok"], axes=[1], keepdims=0),
    helper.make_node("ReduceMin", ["d/cellok"], ["covered"], axes=[0], keepdims=1),  # [1]
]
n, i = inline(m["graph"]["stem"]["file"], "stem", "x", "h_stem"); nodes += n; inits += i
h = "h_stem"
for ci, ss in enumerate(sets):
    y = f"h{ci}"
    if len(ss) == 1:
        n, i = mask_set(ci, ss[0], h, y, f"c{ci}"); nodes += n; inits += i
    else:
        inits.append(c(f"c{ci}/idx", np.array(ci, np.int64)))
        nodes.append(helper.make_node("Gather", ["d/res", f"c{ci}/idx"], [f"c{ci}/m"], axis=0))
        for j in range(len(ss) - 1):
            inits.append(c(f"c{ci}/k{j}", np.array(float(ss[j]), np.float32)))
            nodes.append(helper.make_node("Equal", [f"c{ci}/m", f"c{ci}/k{j}"], [f"c{ci}/eq{j}"]))
        def chain(j, out_name):
            tn_name = f"c{ci}/s{j}/y"
            tn, ti = mask_set(ci, ss[j], h, tn_name, f"c{ci}/s{j}")
            then_g = helper.make_graph(tn, f"c{ci}_then{j}", [], [helper.make_tensor_value_info(tn_name, TensorProto.FLOAT, None)], ti)
            if j == len(ss) - 2:
                last = f"c{ci}/s{j+1}/y"
                en, ei = mask_set(ci, ss[j + 1], h, last, f"c{ci}/s{j+1}")
                else_g = helper.make_graph(en, f"c{ci}_else{j}", [], [helper.make_tensor_value_info(last, TensorProto.FLOAT, None)], ei)
            else:
                inner = f"c{ci}/r{j}/y"
                else_g = helper.make_graph([chain(j + 1, inner)], f"c{ci}_else{j}", [], [helper.make_tensor_value_info(inner, TensorProto.FLOAT, None)])
            return helper.make_node("If", [f"c{ci}/eq{j}"], [out_name], name=f"c{ci}/if{j}", then_branch=then_g, else_branch=else_g)
        nodes.append(chain(0, y))
    h = y
n, i = inline(m["graph"]["head"]["file"], "head", h, "y"); nodes += n; inits += i
g = helper.make_graph(nodes, "fused", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10]),
                       helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, C * O]),
                       helper.make_tensor_value_info("covered", TensorProto.FLOAT, [1])], inits)
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
print(out, "varying cells", {ci: [ALPH[s] for s in ss] for ci, ss in enumerate(sets) if len(ss) > 1}, "paths", len(hot))
