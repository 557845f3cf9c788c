import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { conformance } from "./conformance.js";
import { httpTarget } from "./targets.js";

conformance(httpTarget);

after(() => assertNoLeaks());
