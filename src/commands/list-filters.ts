import { invalidArgument, isPurserError } from "../errors/errdefs.js";
import { parseFilters, type Filter } from "../filters/index.js";
import { stringList, type Payload } from "./payload.js";

/**
 * The `filters` of a list request (several strings, ORed). containerd's image,
 * container and lease `List` wrap a parse error in InvalidArgument once more,
 * so the text ends in `: invalid argument: invalid argument` (A.12, observed).
 */
export function parseListFilters(p: Payload): Filter {
  const filters = stringList(p, "filters");
  try {
    return parseFilters(filters);
  } catch (err) {
    if (isPurserError(err)) throw invalidArgument(err.message);
    throw err;
  }
}
