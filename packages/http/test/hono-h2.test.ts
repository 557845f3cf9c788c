import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { conformance } from "./conformance.js";
import { honoTarget } from "./hono-target.js";

// Hono's own c.req.raw.signal never fires under node:http2 (honojs/node-server#398): lifeline's ctx must.
conformance(honoTarget(true));

after(() => assertNoLeaks());
