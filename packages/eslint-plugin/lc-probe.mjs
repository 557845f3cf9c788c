import { Linter } from "eslint";
import tseslint from "typescript-eslint";
import lifeline from "@lifeline/eslint-plugin";
const linter = new Linter({ configType: "flat" });
const code = process.argv[2];
const msgs = linter.verify(code, [{ files: ["**/*.ts"], languageOptions: { parser: tseslint.parser } }, { files: ["**/*.ts"], ...lifeline.configs.recommended }], "x.ts");
console.log(JSON.stringify(msgs.map(m => [m.ruleId, m.line, m.message.slice(0,120), m.suggestions?.map(s=>s.fix.text)]), null, 1));
