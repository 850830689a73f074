import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/** The one ajv instance: every error is collected, so a config reports all its problems at once. */
export const ajv = new Ajv2020.default({ allErrors: true, strict: false, allowUnionTypes: true });
addFormats.default(ajv);
