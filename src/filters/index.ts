/**
 * containerd's filter language (`filters` package of containerd 1.6):
 * `name==foo,labels."a b"`, `topic~=/images/.*`, several strings ORed.
 *
 * Parse with {@link parseFilters} (or {@link parseFilter} for one string),
 * then match each object through an {@link Adaptor} that exposes its fields.
 */
export { parseAll as parseFilters, parse as parseFilter } from "./parser.js";
export { Always, All, Any, Operator, Selector, type Filter } from "./filter.js";
export {
  adaptEnvelope,
  adaptObject,
  adaptRecord,
  mapField,
  nonEmpty,
  type Adaptor,
  type EnvelopeFields,
  type StringMap,
} from "./adaptor.js";
export { RegexpSyntaxError, compileGoRegexp } from "./regexp.js";
