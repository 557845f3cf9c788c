import { conformance } from "./conformance.js";
import { fastifyTarget } from "./fastify-target.js";

conformance(fastifyTarget(true));
