import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { conformance } from "./conformance.js";
import { h2StreamTarget } from "./targets.js";

conformance(h2StreamTarget);

after(() => assertNoLeaks());
