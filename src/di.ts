/**
 * The dependency-injection entry: tsyringe needs the Reflect metadata polyfill
 * loaded before it is, so every module imports tsyringe through here.
 */
import "reflect-metadata";
export { container, inject, injectable } from "tsyringe";
