import { conformance } from "./conformance.js";
import { h2StreamTarget } from "./targets.js";

conformance(h2StreamTarget);
