import os,time,sys,json
root=int(sys.argv[1]); out=sys.argv[2]; hz=os.sysconf('SC_CLK_TCK')
def stat(pid):
    st=open(f'/proc/{pid}/stat').read(); rest=st[st.rindex(')')+2:].split()
    return int(rest[1]), int(rest[11])+int(rest[12])
labels={}; tracked=[]; last={}; samples=[]; nextscan=0
def scan():
    global tracked
    m={}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try: m[int(d)]=stat(int(d))[0]
            except Exception: pass
    res=[]
    for pid in m:
        chain=[]; p=pid
        while p in m and p>1:
            chain.append(p)
            if p==root: break
            p=m[p]
        if root not in chain: continue
        lab='node'
        for q in chain:
            try: cl=open(f'/proc/{q}/cmdline').read().split('\0')
            except Exception: continue
            if '-D' in cl: lab='pg:'+cl[cl.index('-D')+1].rstrip('/').split('/')[-1]; break
        labels[pid]=lab; res.append(pid)
    tracked=res
while os.path.exists(f'/proc/{root}'):
    t=time.time()
    if t>nextscan: scan(); nextscan=t+0.25
    agg={}
    for pid in tracked:
        try: ticks=stat(pid)[1]
        except Exception: continue
        d=ticks-last.get(pid,ticks); last[pid]=ticks
        if d: agg[labels[pid]]=agg.get(labels[pid],0)+d
    samples.append((t,agg,0,0))
    time.sleep(0.01)
json.dump({'hz':hz,'samples':samples},open(out,'w'))
