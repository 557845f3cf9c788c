import { after } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import { conformance } from "./conformance.js";
import { fastifyTarget } from "./fastify-target.js";

conformance(fastifyTarget(true));

after(() => assertNoLeaks());
