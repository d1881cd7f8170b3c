# EXPERIMENT (session 10): batch-1 graphs for "controller + shared prefix in one session, then the path's suffix".
# Writes, for the bundle's hot paths that share cells 0..K-1 (K = first cell where they differ):
#   full_<code>.onnx    stem + every cell of the path + head (what a compiled path is), x -> y
#   fused.onnx          controller and stem + cells 0..K-1 side by side, x -> probs, h
#   suffix_<code>.onnx  cells K.. + head, h -> y
import json, sys
import onnx
from onnx import helper, TensorProto

bundle, out = sys.argv[1], sys.argv[2]
m = json.load(open(f"{bundle}/manifest.json"))
cells = m["graph"]["cells"]
ALPH = "0123456789abcdefghijklmnopqrstuv"
decode = lambda code: [[o for o in range(len(cells[i]["options"])) if (ALPH.index(ch) >> o) & 1] for i, ch in enumerate(code)]

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

def chain(path, lo, hi, x_name, y_name):
    nodes, inits, h = [], [], x_name
    for ci in range(lo, hi):
        opts = path[ci]
        y = f"h{ci}" if ci < hi - 1 or y_name is None else y_name
        if not opts:
            nodes.append(helper.make_node("Identity", [h], [y], name=f"c{ci}/id"))
        else:
            outs = []
            for o in opts:
                yo = y if len(opts) == 1 else f"c{ci}/o{o}"
                n, i = inline(cells[ci]["options"][o]["file"], f"c{ci}/o{o}", h, yo); nodes += n; inits += i; outs.append(yo)
            if len(opts) > 1:
                acc = outs[0]
                for k, o2 in enumerate(outs[1:]):
                    nxt = y if k == len(outs) - 2 else f"c{ci}/sum{k}"
                    nodes.append(helper.make_node("Add", [acc, o2], [nxt], name=f"c{ci}/add{k}")); acc = nxt
        h = y
    return nodes, inits, h

def save(nodes, inits, inputs, outputs, name):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model); onnx.save(model, f"{out}/{name}.onnx")

X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])
hot = [h["code"] for h in m["hotPaths"]]
paths = {c: decode(c) for c in hot}
K = next(ci for ci in range(len(cells)) if len({tuple(p[ci]) for p in paths.values()}) > 1 or ci == len(cells) - 1)
# the prefix most hot paths share: cells 0..K-1 of the top path; paths that differ there are left out
top = paths[hot[0]]
K = 0
while K < len(cells) and sum(1 for p in paths.values() if all(p[c] == top[c] for c in range(K + 1))) >= len(paths) - 1:
    K += 1
shared = [c for c in hot if all(paths[c][ci] == top[ci] for ci in range(K))]
for c in shared:
    p = paths[c]
    n0, i0 = inline(m["graph"]["stem"]["file"], "stem", "x", "s")
    n1, i1, h = chain(p, 0, len(cells), "s", None)
    n2, i2 = inline(m["graph"]["head"]["file"], "head", h, "y")
    save(n0 + n1 + n2, i0 + i1 + i2, [X], [Y], f"full_{c}")
    n1, i1, h = chain(p, K, len(cells), "hin", None)
    n2, i2 = inline(m["graph"]["head"]["file"], "head", h, "y")
    H = helper.make_tensor_value_info("hin", TensorProto.FLOAT, cells[K]["inputShape"])
    save(n1 + n2, i1 + i2, [H], [Y], f"suffix_{c}")
nc, ic = inline(m["controller"]["file"], "ctrl", "x", "probs")
n0, i0 = inline(m["graph"]["stem"]["file"], "stem", "x", "s")
n1, i1, h = chain(top, 0, K, "s", "h")
save(nc + n0 + n1, ic + i0 + i1, [X], [helper.make_tensor_value_info("probs", TensorProto.FLOAT, m["controller"]["outputShape"]),
                                      helper.make_tensor_value_info("h", TensorProto.FLOAT, cells[K]["inputShape"])], "fused")
json.dump({"K": K, "codes": shared}, open(f"{out}/prefix.json", "w"))
print("shared prefix: cells 0 ..", K - 1, "; paths", len(shared), "of", len(hot))
