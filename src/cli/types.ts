// The API's response bodies, as the CLI reads them: the types of the API's own zod schemas (type-only
// imports, so nothing of the API is loaded at run time).
import type { z } from 'zod';
import type * as S from '../api/schemas.ts';

export type Health = z.output<typeof S.Health>;
export type SourceList = z.output<typeof S.SourceList>;
export type RunPage = z.output<typeof S.RunPage>;
export type RunInfo = z.output<typeof S.RunInfo>;
export type RunSource = z.output<typeof S.RunSourceInfo>;
export type RunDetail = z.output<typeof S.RunDetail>;
export type RunStarted = z.output<typeof S.RunStarted>;
export type QuarantinePage = z.output<typeof S.QuarantinePage>;
export type QuarantineDetail = z.output<typeof S.QuarantineDetail>;
export type DriftEventPage = z.output<typeof S.DriftEventPage>;
export type ReviewPage = z.output<typeof S.ReviewPage>;
export type OverridePage = z.output<typeof S.OverridePage>;
export type OverrideResponse = z.output<typeof S.OverrideResponse>;
export type Override = z.output<typeof S.OverrideInfo>;
export type ReprocessStarted = z.output<typeof S.ReprocessStarted>;
