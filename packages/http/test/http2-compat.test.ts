import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { conformance } from "./conformance.js";
import { h2CompatTarget } from "./targets.js";

conformance(h2CompatTarget);

after(() => assertNoLeaks());
