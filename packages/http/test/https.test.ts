import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { conformance } from "./conformance.js";
import { httpsTarget } from "./targets.js";

conformance(httpsTarget);

after(() => assertNoLeaks());
