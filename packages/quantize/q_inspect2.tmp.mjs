import { readGgufFileInfo } from 'node-llama-cpp';
const info = await readGgufFileInfo(process.argv[2], { readTensorInfo: true });
const md = info.metadata;
const flat = (o, p='') => Object.entries(o).flatMap(([k,v]) => v && typeof v === 'object' && !Array.isArray(v) ? flat(v, p+k+'.') : [[p+k, Array.isArray(v) ? `arr(${v.length}) ${JSON.stringify(v.slice(0,5))}` : JSON.stringify(v)]]);
for (const [k,v] of flat(md)) console.log(k, v);
