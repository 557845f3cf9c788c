import { conformance } from "./conformance.js";
import { httpsTarget } from "./targets.js";

conformance(httpsTarget);
