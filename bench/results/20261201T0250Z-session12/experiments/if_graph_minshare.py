# EXPERIMENT (session 10): one ONNX graph holding every hot path of a bundle at batch 1, with an If chain in
# each cell where the hot paths differ, selected by one float input per such cell (sel_<cell> = index of the
# option set). One session, one copy of every weight, no zero-row runs.
import json, sys
import onnx
from onnx import helper, TensorProto, numpy_helper
import numpy as np

bundle, out = sys.argv[1], sys.argv[2]
min_share = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
m = json.load(open(f"{bundle}/manifest.json"))
cells = m["graph"]["cells"]
ALPH = "0123456789abcdefghijklmnopqrstuv"
def decode(code):
    return [[o for o in range(len(cells[i]["options"])) if (ALPH.index(ch) >> o) & 1] for i, ch in enumerate(code)]
hot = [h["code"] for h in m["hotPaths"] if h["share"] >= min_share]
paths = [decode(c) for c in hot]
sets = [sorted({tuple(p[i]) for p in paths}) for i in range(len(cells))]

def inline(mod_file, prefix, x_name, y_name):
    g = onnx.load(f"{bundle}/{mod_file}").graph
    ren = lambda n: x_name if n == g.input[0].name else (y_name if n == g.output[0].name else (f"{prefix}/{n}" if n else n))
    nodes = []
    for nd in g.node:
        n2 = onnx.NodeProto(); n2.CopyFrom(nd)
        del n2.input[:]; n2.input.extend([ren(i) for i in nd.input])
        del n2.output[:]; n2.output.extend([ren(o) for o in nd.output])
        n2.name = f"{prefix}/{nd.name}"
        nodes.append(n2)
    inits = []
    for t in g.initializer:
        t2 = onnx.TensorProto(); t2.CopyFrom(t); t2.name = f"{prefix}/{t.name}"; inits.append(t2)
    return nodes, inits

def option_set(ci, s, x_name, y_name, tag):
    """nodes + initializers computing cell ci with options s (summed) from x_name into y_name."""
    if not s:
        return [helper.make_node("Identity", [x_name], [y_name], name=f"{tag}/id")], []
    nodes, inits, outs = [], [], []
    for o in s:
        opt = cells[ci]["options"][o]
        yo = y_name if len(s) == 1 else f"{tag}/o{o}"
        n, i = inline(opt["file"], f"{tag}/o{o}", x_name, yo); nodes += n; inits += i; outs.append(yo)
    acc = outs[0]
    for k, o2 in enumerate(outs[1:]):
        nxt = y_name if k == len(outs) - 2 else f"{tag}/sum{k}"
        nodes.append(helper.make_node("Add", [acc, o2], [nxt], name=f"{tag}/add{k}")); acc = nxt
    return nodes, inits

nodes, inits, inputs = [], [], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])]
n, i = inline(m["graph"]["stem"]["file"], "stem", "x", "h_stem"); nodes += n; inits += i
h = "h_stem"
for ci, ss in enumerate(sets):
    y = f"h{ci}"
    if len(ss) == 1:
        n, i = option_set(ci, list(ss[0]), h, y, f"c{ci}"); nodes += n; inits += i
    else:
        inputs.append(helper.make_tensor_value_info(f"sel{ci}", TensorProto.FLOAT, [1]))
        for j in range(len(ss) - 1):
            inits.append(numpy_helper.from_array(np.array([float(j)], np.float32), f"c{ci}/k{j}"))
            nodes.append(helper.make_node("Equal", [f"sel{ci}", f"c{ci}/k{j}"], [f"c{ci}/eq{j}"], name=f"c{ci}/eq{j}"))
        # build the chain bottom-up
        def chain(j, out_name):
            then_name = f"c{ci}/s{j}/y"
            tn, ti = option_set(ci, list(ss[j]), h, then_name, f"c{ci}/s{j}")
            then_g = helper.make_graph(tn, f"c{ci}_then{j}", [], [helper.make_tensor_value_info(then_name, TensorProto.FLOAT, None)], ti)
            if j == len(ss) - 2:
                last = f"c{ci}/s{j+1}/y"
                en, ei = option_set(ci, list(ss[j + 1]), h, last, f"c{ci}/s{j+1}")
                else_g = helper.make_graph(en, f"c{ci}_else{j}", [], [helper.make_tensor_value_info(last, TensorProto.FLOAT, None)], ei)
            else:
                inner = f"c{ci}/r{j}/y"
                else_g = helper.make_graph([chain(j + 1, inner)], f"c{ci}_else{j}", [], [helper.make_tensor_value_info(inner, TensorProto.FLOAT, None)])
            return helper.make_node("If", [f"c{ci}/eq{j}"], [out_name], name=f"c{ci}/if{j}", then_branch=then_g, else_branch=else_g)
        nodes.append(chain(0, y))
    h = y
n, i = inline(m["graph"]["head"]["file"], "head", h, "y"); nodes += n; inits += i
g = helper.make_graph(nodes, "if_graph", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
sel = {str(ci): [list(s) for s in ss] for ci, ss in enumerate(sets) if len(ss) > 1}
json.dump({"sets": sel, "codes": hot}, open(out + ".json", "w"))
print(out, "routed cells", {k: len(v) for k, v in sel.items()})
