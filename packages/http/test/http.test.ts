import { conformance } from "./conformance.js";
import { httpTarget } from "./targets.js";

conformance(httpTarget);
