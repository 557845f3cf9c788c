import { conformance } from "./conformance.js";
import { h2CompatTarget } from "./targets.js";

conformance(h2CompatTarget);
