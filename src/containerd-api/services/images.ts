import type { ImageRecord } from "../../events/image-events.js";
import { imageMessage, imagePayload, maskPaths } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import type { UnaryHandler } from "../unary.js";

/** `containerd.services.images.v1.Images`: purser's images commands and queries in the call's namespace. */
export function imagesService(calls: PurserCalls): Record<string, UnaryHandler> {
  return {
    async get(call) {
      const { result } = await calls.runInCallNamespace<ImageRecord>(call.metadata, "images", "get", { name: call.request.name });
      return { image: imageMessage(result) };
    },
    async list(call) {
      const ns = calls.namespaceOf(call.metadata);
      const images = await calls.listAll<ImageRecord>(call.metadata, "images", ns, call.request.filters);
      return { images: images.map(imageMessage) };
    },
    async create(call) {
      const { result } = await calls.runInCallNamespace<ImageRecord>(call.metadata, "images", "create", imagePayload(call.request.image ?? { name: "", labels: {}, target: null }));
      return { image: imageMessage(result) };
    },
    async update(call) {
      const payload = { ...imagePayload(call.request.image ?? { name: "", labels: {}, target: null }), fieldPaths: maskPaths(call.request.updateMask) };
      const { result } = await calls.runInCallNamespace<ImageRecord>(call.metadata, "images", "update", payload);
      return { image: imageMessage(result) };
    },
    async delete(call) {
      await calls.runInCallNamespace(call.metadata, "images", "delete", { name: call.request.name, sync: call.request.sync });
      if (call.request.sync) await calls.run(call.metadata, "gc", "collect", "", {}); // global: every namespace
      return {};
    },
  };
}
