// The dashboard: one self-contained page (no build step, no CDN: it must work offline) that polls
// the admin API every 2 s and draws the keyspace map, a latency heatmap per shard over time, the
// replication topology with live lag, hot keys with scores, alerts, advice and migrations, and
// from the stored history: data growth with its projection, a latency heatmap and QPS, charted
// with uPlot (dashboard-charts.ts), which the admin server serves from node_modules.
// Hot keys, advice, migrations, history and reports need the admin token: the page takes it from "#token=...".
import { registerDashboardAssets } from './dashboard-assets.js';
import { HISTORY_CHARTS_SCRIPT } from './dashboard-charts.js';
import type { AdminServer } from './http.js';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shardgate</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/uPlot.min.css"><script src="/assets/uPlot.iife.min.js"></script>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0} header span{opacity:.7}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:14px;padding:14px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 14px}
h2{font-size:14px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#56627a}
table{border-collapse:collapse;width:100%} td,th{padding:3px 6px;border-bottom:1px solid #eef0f3;text-align:left;font-variant-numeric:tabular-nums}
.keyspace{display:flex;height:46px;border-radius:4px;overflow:hidden;border:1px solid #c9ced6}
.keyspace div{display:flex;flex-direction:column;justify-content:center;align-items:center;color:#fff;font-size:12px;border-right:1px solid #fff}
.ok{color:#137333}.warn{color:#b06000}.bad{color:#c5221f}
.heat{display:grid;grid-auto-flow:column;grid-auto-columns:10px;gap:1px}
.heat i{display:block;width:10px;height:14px;border-radius:2px}
.muted{color:#8590a2}
</style></head><body>
<header><h1>shardgate</h1><span id="version"></span><span id="updated"></span></header>
<main>
<section><h2>Keyspace</h2><div id="keyspace" class="keyspace"></div><div id="keyspace-legend" class="muted"></div></section>
<section><h2>Replication</h2><table id="replication"><thead><tr><th>shard</th><th>server</th><th>role</th><th>state</th><th>lag</th></tr></thead><tbody></tbody></table></section>
<section><h2>Latency p99 per shard (last 5 min)</h2><div id="heatmap"></div></section>
<section><h2>Data growth per shard (history, dashed: projection)</h2><div id="growth" class="muted"><div class="chart"></div><div class="legend">no history yet</div></div></section>
<section><h2>Latency heatmap (history: time x latency bucket)</h2><div id="history-heat" class="muted"><div class="chart"></div><div class="legend">no history yet</div></div></section>
<section><h2>QPS per shard (history)</h2><div id="qps" class="muted"><div class="chart"></div><div class="legend">no history yet</div></div></section>
<section><h2>Hot keys</h2><div id="hotness" class="muted"></div><table id="hotkeys"><thead><tr><th>shard</th><th>table</th><th>key</th><th>requests</th></tr></thead><tbody></tbody></table></section>
<section><h2>Top statements (total time)</h2><table id="queries"><thead><tr><th>statement</th><th>calls</th><th>mean</th><th>rows</th><th>shards</th><th>levels</th></tr></thead><tbody></tbody></table></section>
<section><h2>Result cache</h2><div id="cache" class="muted">off</div></section>
<section><h2>Alerts</h2><div id="alerts" class="muted">none</div></section>
<section><h2>Advice</h2><div id="advice" class="muted">none</div></section>
<section><h2>Migrations</h2><div id="migrations" class="muted">no migration running</div></section>
</main>
<script>
const COLORS=['#3b6fd8','#2a9d8f','#e76f51','#8e5bd8','#d4a017','#5a7d2a'];
const heat={};
const esc=(s)=>String(s).replace(/[&<>"]/g,(c)=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
// The admin token arrives once in the URL fragment (never sent to a server), then lives in this tab only.
const TOKEN=(()=>{const m=/(?:^#|&)token=([^&]+)/.exec(location.hash);if(m){sessionStorage.setItem('sgToken',decodeURIComponent(m[1]));history.replaceState(null,'',location.pathname);}return sessionStorage.getItem('sgToken');})();
const get=(p)=>fetch(p,TOKEN?{headers:{authorization:'Bearer '+TOKEN}}:{}).then((r)=>r.ok?r.json():null).catch(()=>null);
function heatColor(s){if(s==null)return '#eef0f3';const ms=s*1000;if(ms<1)return '#c7e9c0';if(ms<5)return '#74c476';if(ms<20)return '#fdae6b';if(ms<100)return '#f16913';return '#a50f15';}
async function tick(){
  const [topo,shards,hot,alerts,advice,migrations,queries,cache]=await Promise.all([get('/api/topology'),get('/api/shards'),get('/api/hotkeys?limit=10'),get('/api/alerts'),get('/api/advice'),get('/api/migrations'),get('/api/queries?limit=10'),get('/api/cache')]);
  if(!topo)return;
  document.getElementById('version').textContent='topology v'+topo.version;
  document.getElementById('updated').textContent='updated '+new Date().toLocaleTimeString();
  const total=2n**64n;
  const ks=document.getElementById('keyspace');ks.innerHTML='';
  topo.shards.forEach((s,i)=>{const start=BigInt(s.start);const end=s.end?BigInt(s.end):total;const pct=Number((end-start)*10000n/total)/100;
    const info=(shards||[]).find((x)=>x.name===s.name&&x.protocol!=='mysql')||{};
    const d=document.createElement('div');d.style.width=pct+'%';d.style.background=COLORS[i%COLORS.length];d.dataset.shard=s.name;
    const size=info.dataBytes==null?'size unknown':(info.dataBytes/1048576).toFixed(1)+' MiB';
    d.innerHTML='<b>'+esc(s.name)+'</b><span>'+esc(s.keyRange)+' · '+size+' · '+(info.requests??0)+' req</span>';ks.appendChild(d);});
  const rep=document.querySelector('#replication tbody');rep.innerHTML='';
  topo.shards.forEach((s)=>[s.primary,...s.replicas].forEach((srv)=>{const tr=document.createElement('tr');tr.dataset.server=srv.name;
    const lag=srv.role==='primary'?'-':srv.lagMs==null?'unknown':Math.round(srv.lagMs)+' ms';
    const cls=!srv.healthy?'bad':srv.lagMs>5000?'warn':'ok';
    tr.innerHTML='<td>'+esc(s.name)+'</td><td>'+esc(srv.name)+'</td><td>'+srv.role+'</td><td class="'+cls+'">'+(srv.healthy?(srv.drained?'drained':'up'):'DOWN')+'</td><td>'+lag+'</td>';rep.appendChild(tr);}));
  (shards||[]).filter((s)=>s.protocol==='mysql').forEach((s)=>s.servers.forEach((srv)=>{const tr=document.createElement('tr');tr.dataset.server='mysql:'+srv.name;
    const lag=srv.role==='primary'?'-':srv.lagMs==null?'unknown':Math.round(srv.lagMs)+' ms';
    const cls=!srv.healthy?'bad':srv.lagMs>5000?'warn':'ok';
    tr.innerHTML='<td>'+esc(s.name)+' (MySQL)</td><td>'+esc(srv.name)+'</td><td>'+srv.role+'</td><td class="'+cls+'">'+(srv.healthy?(srv.drained?'drained':'up'):'DOWN')+'</td><td>'+lag+'</td>';rep.appendChild(tr);}));
  const hm=document.getElementById('heatmap');hm.innerHTML='';
  (shards||[]).filter((s)=>s.protocol!=='mysql').forEach((s)=>{const p99=Math.max(0,...(s.latency||[]).map((l)=>l.p99||0));(heat[s.name]=heat[s.name]||[]).push(s.latency&&s.latency.length?p99:null);if(heat[s.name].length>150)heat[s.name].shift();
    const row=document.createElement('div');row.innerHTML='<span style="display:inline-block;width:40px">'+esc(s.name)+'</span>';const cells=document.createElement('span');cells.className='heat';cells.style.display='inline-grid';
    heat[s.name].forEach((v)=>{const c=document.createElement('i');c.style.background=heatColor(v);c.title=v==null?'no traffic':(v*1000).toFixed(2)+' ms';cells.appendChild(c);});row.appendChild(cells);hm.appendChild(row);});
  if(!hot)document.getElementById('hotness').textContent='hot keys, advice and migrations need the admin token: open this page as /#token=<admin.token>';
  if(hot){document.getElementById('hotness').textContent=hot.shards.map((h)=>h.shard+': hotspot '+(h.hotspotScore==null?'-':h.hotspotScore.toFixed(0))).join(' · ')+' · imbalance '+(hot.imbalance&&hot.imbalance.score!=null?hot.imbalance.score.toFixed(0):'-');
    const tb=document.querySelector('#hotkeys tbody');tb.innerHTML='';hot.keys.forEach((k)=>{const tr=document.createElement('tr');tr.dataset.hotKey=k.value;tr.innerHTML='<td>'+esc(k.shard)+'</td><td>'+esc(k.table)+'</td><td>'+esc(k.value)+'</td><td>'+k.count+'</td>';tb.appendChild(tr);});}
  if(queries){const qb=document.querySelector('#queries tbody');qb.innerHTML='';queries.queries.forEach((q,i)=>{const tr=document.createElement('tr');tr.dataset.query=String(i);
    tr.innerHTML='<td><code>'+esc(q.query.slice(0,120))+'</code></td><td>'+q.calls+'</td><td>'+q.meanMs.toFixed(2)+' ms</td><td>'+q.rows+'</td><td>'+esc(Object.keys(q.shards).join(' '))+'</td><td>'+esc(Object.keys(q.levels).join(' '))+'</td>';qb.appendChild(tr);});}
  if(cache){document.getElementById('cache').textContent=cache.tables.length?'hit ratio '+(cache.hitRatio==null?'-':(cache.hitRatio*100).toFixed(1)+' %')+' · '+cache.hits+' hits · '+cache.misses+' misses · '+cache.entries+' entries · '+(cache.bytes/1024).toFixed(0)+' KiB · tables '+cache.tables.map((t)=>t.table+' ('+t.ttlMs+' ms, '+t.strategy+')').join(', '):'no data type sets cacheTtlMs';}
  const al=document.getElementById('alerts');al.innerHTML=alerts&&alerts.firing.length?alerts.firing.map((a)=>'<div class="'+(a.severity==='critical'?'bad':'warn')+'">['+a.severity+'] '+esc(a.alertname)+' '+esc(a.shard)+(a.replica?' '+esc(a.replica):'')+': '+esc(a.summary)+'</div>').join(''):'none';
  const adv=document.getElementById('advice');const items=advice?[...advice.scaling,...advice.query,...advice.pools,...advice.split.filter((s)=>s.recommendation).map((s)=>s.recommendation)]:[];
  adv.innerHTML=items.length?items.map((a)=>'<div>'+esc(a.kind)+' '+esc(a.shard??'')+': '+esc(a.message??a.reason??JSON.stringify(a.metrics??{}))+'</div>').join(''):'none';
  const mg=document.getElementById('migrations');mg.innerHTML=migrations&&migrations.length?migrations.map((m)=>{const pct=m.copy.estimatedRows?Math.min(100,Math.round(m.copy.rows*100/m.copy.estimatedRows)):0;
    return '<div class="migration" data-id="'+esc(m.id)+'"><b>'+esc(m.id)+'</b> '+esc(m.phase)+' · copied '+m.copy.rows+'/'+m.copy.estimatedRows+' rows ('+pct+'%)'+(m.capture.lagBytes!=null?' · capture lag '+m.capture.lagBytes+' B':'')+(m.cutover?' · block '+m.cutover.blockMs+' ms':'')+'<div class="muted">'+esc(m.status)+'</div><div style="background:#e3e6ea;height:6px"><div style="background:#3b6fd8;height:6px;width:'+pct+'%"></div></div></div>';}).join(''):'no migrations';
}
${HISTORY_CHARTS_SCRIPT}
tick();setInterval(tick,2000);drawHistory();setInterval(drawHistory,5000);
</script></body></html>`;

export function registerDashboard(admin: AdminServer, migrations: () => unknown[] = () => []): void {
  for (const path of ['/', '/dashboard']) {
    admin.route({
      method: 'GET',
      path,
      open: true,
      handler: () => ({ text: PAGE, contentType: 'text/html; charset=utf-8' }),
    });
  }
  registerDashboardAssets(admin);
  admin.route({ method: 'GET', path: '/api/migrations', handler: () => ({ json: migrations() }) });
}
