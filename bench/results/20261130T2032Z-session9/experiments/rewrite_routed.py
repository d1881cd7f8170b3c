# Writes /tmp/routed-v1.onnx and /tmp/routed-v2.onnx from /tmp/routed.onnx (compileRouted's output for
# models/fashion-mnist, written by a one-off script). As run in session 9; not maintained.
import onnx, re
from onnx import helper, TensorProto, numpy_helper
import numpy as np

m = onnx.load('/tmp/routed.onnx')
# v1: route/pick inputs int64, drop their Casts
m1 = onnx.ModelProto(); m1.CopyFrom(m); g1 = m1.graph
cast_map, keep = {}, []
for n in g1.node:
    if n.op_type == 'Cast' and (n.input[0].startswith('route') or n.input[0].startswith('pick')):
        cast_map[n.output[0]] = n.input[0]
    else:
        keep.append(n)
for n in keep:
    for i, x in enumerate(n.input):
        if x in cast_map: n.input[i] = cast_map[x]
del g1.node[:]; g1.node.extend(keep)
for i in g1.input:
    if i.name != 'x': i.type.tensor_type.elem_type = TensorProto.INT64
onnx.checker.check_model(m1); onnx.save(m1, '/tmp/routed-v1.onnx')

# v2: per routed cell, GatherND(h, rows[k,1]) per option and a ScatterND chain (reduction add where a path sums
# options) into the cell input (identity cells) or into zeros, instead of Concat + Gather(pick) + ReduceSum.
g = m.graph
for o in m.opset_import:
    if o.domain in ('', 'ai.onnx'): o.version = 16
byname = {n.name: n for n in g.node}
cells = sorted({int(re.match(r'#cell(\d+)/route/', n.name).group(1)) for n in g.node if re.match(r'#cell(\d+)/route/', n.name)})
newnodes, drop, info = [], set(), {}
g.initializer.append(numpy_helper.from_array(np.array([1, 1, 1], dtype=np.int64), 'ones3'))
g.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), 'i0'))
g.initializer.append(numpy_helper.from_array(np.array([1], dtype=np.int64), 'i1'))
for ci in cells:
    p = f'#cell{ci}/route/'
    parts = list(byname[p + 'concat'].input)
    zero = parts[0]
    multi = (p + 'reducesum') in byname
    final = byname[p + 'reducesum'].output[0] if multi else byname[p + 'gatherpick'].output[0]
    gathers = [n for n in g.node if n.name.startswith(p + 'gather') and n.name != p + 'gatherpick']
    h = gathers[0].input[0]
    identity = h in parts
    opt_outs = [x for x in parts[1:] if x != h]
    drop |= {p + 'concat', p + 'castpick', p + 'gatherpick', p + 'reducesum'}
    for gn in gathers:
        o = gn.name[len(p + 'gather'):]
        drop.add(p + 'cast' + o); drop.add(gn.name)
        newnodes.append((gn.name, helper.make_node('GatherND', [h, f'route{ci}_{o}'], [gn.output[0]], name=gn.name + 'nd')))
    if identity and not multi:
        base, pre = h, []
    else:
        assert not identity
        pre = [helper.make_node('Shape', [h], [p + 'shape'], name=p + 'shape'),
               helper.make_node('Slice', [p + 'shape', 'i0', 'i1'], [p + 'n'], name=p + 'slicen'),
               helper.make_node('Concat', [p + 'n', 'ones3'], [p + 'eshape'], axis=0, name=p + 'eshape'),
               helper.make_node('Expand', [zero, p + 'eshape'], [p + 'base'], name=p + 'expand')]
        base = p + 'base'
    cur, chain = base, []
    opts = [gn.name[len(p + 'gather'):] for gn in gathers]
    for k, (o, out) in enumerate(zip(opts, opt_outs)):
        nxt = final if k == len(opts) - 1 else f'{p}acc{k}'
        kw = {'reduction': 'add'} if multi else {}
        chain.append(helper.make_node('ScatterND', [cur, f'route{ci}_{o}', out], [nxt], name=f'{p}scatter{o}', **kw))
        cur = nxt
    info[ci] = pre + chain
out = []
for n in g.node:
    if n.name in drop:
        if n.name.endswith('/concat'):
            out.extend(info[int(re.match(r'#cell(\d+)/', n.name).group(1))])
        elif re.search(r'/gather\d+$', n.name):
            out.extend([nn for (name, nn) in newnodes if name == n.name])
        continue
    out.append(n)
del g.node[:]; g.node.extend(out)
newin = []
for i in g.input:
    if i.name.startswith('pick'): continue
    if i.name.startswith('route'):
        i.type.tensor_type.elem_type = TensorProto.INT64
        i.type.tensor_type.shape.dim.add().dim_value = 1
    newin.append(i)
del g.input[:]; g.input.extend(newin)
onnx.checker.check_model(m); onnx.save(m, '/tmp/routed-v2.onnx')
