// The dashboard's history panels, drawn with uPlot (served by dashboard-assets.ts) from the stored
// per-shard samples (/api/history) and the monthly report's scaling plan: data growth per shard
// with its projection (dashed, as far ahead as the history reaches back), a latency heatmap (time
// x latency bucket, cells drawn in uPlot's draw hook on its time axis) and QPS per shard.
// Browser code in a string: the page has no build step. Uses COLORS, esc and get from the page.
export const HISTORY_CHARTS_SCRIPT = `
const charts={};
const CHART_H=190;
function chartIn(id,opts,data){
  const el=document.getElementById(id);let c=charts[id];
  if(c&&c.series.length===opts.series.length){c.setData(data);return c;}
  if(c)c.destroy();
  el.classList.remove('muted');el.querySelector('.chart').innerHTML='';
  c=charts[id]=new uPlot({width:Math.max(320,el.clientWidth-10),height:CHART_H,legend:{show:false},...opts},data,el.querySelector('.chart'));
  return c;
}
function mib(b){return b==null?null:b/1048576;}
function aligned(by,shards,field){
  const ts=[...new Set(shards.flatMap((s)=>by[s].map((r)=>r.t/1000)))].sort((a,b)=>a-b);
  const index=new Map(ts.map((t,i)=>[t,i]));
  const ys=shards.map((s)=>{const y=new Array(ts.length).fill(null);by[s].forEach((r)=>{y[index.get(r.t/1000)]=field(r);});return y;});
  return [ts,ys];
}
function drawGrowth(by,shards,scaling){
  const [ts,ys]=aligned(by,shards,(r)=>mib(r.dataBytes));
  if(ts.length<2)return;
  const span=Math.max(60,ts.at(-1)-ts[0]);const xs=[...ts,ts.at(-1)+span];
  const series=[{}];const data=[xs];
  shards.forEach((s,i)=>{const p=scaling.find((x)=>x.shard===s)||{};const y=ys[i];const last=y.at(-1);
    series.push({label:s,stroke:COLORS[i%COLORS.length],width:2,spanGaps:true});data.push([...y,null]);
    const proj=new Array(xs.length).fill(null);
    if(last!=null&&p.bytesPerDay!=null){proj[ts.length-1]=last;proj[ts.length]=last+mib(p.bytesPerDay)*span/86400;}
    series.push({label:s+' projected',stroke:COLORS[i%COLORS.length],width:2,dash:[6,5]});data.push(proj);});
  chartIn('growth',{series,axes:[{},{label:'MiB',size:60}]},data);
  document.querySelector('#growth .legend').innerHTML=shards.map((s,i)=>{const p=scaling.find((x)=>x.shard===s)||{};const last=by[s].at(-1);
    const days=p.daysUntilThreshold==null?'no growth measured':Math.floor(p.daysUntilThreshold)+' days to '+(p.thresholdBytes/1073741824).toFixed(0)+' GiB';
    return '<div data-growth="'+esc(s)+'"><b style="color:'+COLORS[i%COLORS.length]+'">'+esc(s)+'</b> '+(last.dataBytes==null?'size unknown':(last.dataBytes/1048576).toFixed(1)+' MiB')+' · '+(p.bytesPerDay==null?'-':(p.bytesPerDay/1048576).toFixed(2)+' MiB/day')+' · '+days+'</div>';}).join('');
}
function drawHeatmap(by,shards){
  const first=by[shards[0]];const bounds=first[0].latencyBounds;const nb=bounds.length+1;
  const [ts]=aligned(by,shards,()=>0);if(ts.length<2)return;
  const index=new Map(ts.map((t,i)=>[t,i]));
  const counts=ts.map(()=>new Array(nb).fill(0));
  shards.forEach((s)=>by[s].forEach((r)=>{const c=counts[index.get(r.t/1000)];(r.latencyBuckets||[]).forEach((n,b)=>{c[b]+=n||0;});}));
  let cells=0;counts.forEach((c)=>c.forEach((n)=>{if(n>0)cells++;}));
  const el=document.getElementById('history-heat');el.dataset.cells=String(cells);
  const label=(b)=>b>=bounds.length?'> '+bounds[bounds.length-1]+' s':'<= '+bounds[b]+' s';
  const opts={
    series:[{},{label:'bucket',paths:()=>null,points:{show:false}}],
    scales:{y:{range:[0,nb]}},
    axes:[{},{size:80,splits:()=>Array.from({length:nb},(_,b)=>b+0.5).filter((_,b)=>b%3===0||b===nb-1),values:(_u,splits)=>splits.map((v)=>label(Math.floor(v)))}],
    height:260,
    hooks:{draw:[(u)=>{const ctx=u.ctx;ctx.save();
      for(let c=0;c<ts.length;c++){const x0=u.valToPos(ts[c],'x',true);const x1=c+1<ts.length?u.valToPos(ts[c+1],'x',true):x0+(x0-u.valToPos(ts[Math.max(0,c-1)],'x',true));
        for(let b=0;b<nb;b++){const n=counts[c][b];if(n===0)continue;
          const a=Math.min(1,0.25+Math.log10(1+n)/3);ctx.fillStyle='rgba(197,34,31,'+a.toFixed(2)+')';
          const y0=u.valToPos(b+1,'y',true),y1=u.valToPos(b,'y',true);ctx.fillRect(x0,y0,Math.max(1,x1-x0-1),Math.max(1,y1-y0-1));}}
      ctx.restore();}]},
  };
  charts['history-heat']?.destroy();delete charts['history-heat'];
  chartIn('history-heat',opts,[ts,ts.map(()=>0)]);
  document.querySelector('#history-heat .legend').textContent=cells+' cells with statements (all shards); darker: more statements';
}
function drawQps(by,shards){
  const [ts,ys]=aligned(by,shards,(r)=>r.qps);if(ts.length<2)return;
  chartIn('qps',{series:[{},...shards.map((s,i)=>({label:s,stroke:COLORS[i%COLORS.length],width:2,spanGaps:true}))],axes:[{},{label:'qps',size:60}]},[ts,...ys]);
  document.querySelector('#qps .legend').innerHTML=shards.map((s,i)=>{const last=by[s].at(-1);return '<div data-qps="'+esc(s)+'"><b style="color:'+COLORS[i%COLORS.length]+'">'+esc(s)+'</b> '+last.qps.toFixed(1)+' qps</div>';}).join('');
}
async function drawHistory(){
  const [h,plan]=await Promise.all([get('/api/history?limit=3000'),get('/api/reports/monthly')]);
  if(!h||!h.records.length||typeof uPlot==='undefined')return;
  const by={};h.records.forEach((r)=>{(by[r.shard]=by[r.shard]||[]).push(r);});
  const shards=Object.keys(by).sort();const scaling=plan?plan.sections.scalingPlan:[];
  drawGrowth(by,shards,scaling);drawHeatmap(by,shards);drawQps(by,shards);
}
`;
