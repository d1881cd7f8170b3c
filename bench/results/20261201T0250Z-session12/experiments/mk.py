import torch, torch.nn as nn, torch.nn.functional as F
class S(nn.Module):
    def __init__(s, pool, chans, lin=False):
        super().__init__(); s.pool=pool; L=[]; c=1
        for w in chans: L += [nn.Conv2d(c,w,3,2,1), nn.ReLU()]; c=w
        s.f=nn.Sequential(*L); s.lin=lin
        s.fc=nn.Linear(c*(pool*pool if lin else 1), 85)
    def forward(s,x):
        x=F.adaptive_avg_pool2d(x,s.pool)
        h=s.f(x)
        h = h.flatten(1) if s.lin else h.mean((2,3))
        return torch.sigmoid(s.fc(h))
for name,m in {'lin7':S(7,[],True),'lin14':S(14,[],True),'c8':S(14,[8]),'c16':S(14,[16]),'c16_32':S(14,[16,32]), 'c8lin':S(14,[8],True)}.items():
    torch.onnx.export(m, torch.zeros(1,1,28,28), f'{name}.onnx', opset_version=13, input_names=['x'], output_names=['p'])
