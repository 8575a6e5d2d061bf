// A Cloudflare Worker (run by workerd): the package's workerd entry imports the
// .wasm as a module; the model ships as a data module. POST {"ids": [[...]]}
// → predictions; GET /scenario → the shared scenario's result. Bad requests get
// a 400 with the error, and the Worker keeps serving.
import * as lib from './workerd.js';
import modelBytes from './model.bin';
import { scenario } from './scenario.mjs';

let model;
export default {
  async fetch(request) {
    await lib.ready;
    const url = new URL(request.url);
    try {
      if (url.pathname === '/scenario') return Response.json(await scenario(lib, new Uint8Array(modelBytes)));
      if (url.pathname === '/memory') return Response.json(lib.memoryStats());
      if (url.pathname === '/load') {
        const m = lib.loadModel(new Uint8Array(await request.arrayBuffer()));
        m.dispose();
        return Response.json({ ok: true });
      }
      model ??= lib.loadModel(new Uint8Array(modelBytes));
      const body = await request.json();
      if (!Array.isArray(body?.ids) || !Array.isArray(body.ids[0])) throw new lib.ValueError('expected {"ids": [[...], ...]}');
      const B = body.ids.length;
      const T = body.ids[0].length;
      const flat = body.ids.flat();
      if (flat.length !== B * T) throw new lib.ShapeError('ids rows must have equal lengths');
      const y = model.predict(lib.tensor(Int32Array.from(flat), [B, T]));
      if (body.state) {
        const s = model.session();
        s.state = body.state;
        s.dispose();
      }
      return Response.json({ shape: y.shape, y: Array.from(y.data) });
    } catch (e) {
      return Response.json({ error: `${e.name}: ${e.message}` }, { status: e instanceof lib.RecurrentWasmError ? 400 : 500 });
    }
  },
};
