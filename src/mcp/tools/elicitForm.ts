/**
 * Elicitation forms made from an Effect Schema, as tools' inputs are: the Schema is the one
 * source of the form the client shows (MCP's flat object of primitive fields) and of the check
 * of the answer. A choice is a `Schema.Literals` with its labels in an `enumNames` annotation
 * (the form MCP clients have shown since 2025-06-18); free text is a `Schema.String`, bounded.
 *
 * @since 0.3.0
 */
import { Option, Schema } from "effect"
import type { ElicitAnswer, ElicitForm } from "./Tool.js"

/** A form: a struct of strings (a choice or free text), decoded without services. */
export type FormSchema = Schema.Struct<Schema.Struct.Fields> & Schema.Codec<Readonly<Record<string, string>>, unknown, never, never>

type Properties = ElicitForm["requestedSchema"]["properties"]

/** The form `schema` describes, asked with `message`. */
export const elicitForm = (message: string, schema: FormSchema): ElicitForm => {
  const json = Schema.toJsonSchemaDocument(schema, { includeAnnotationKey: (key) => key === "enumNames" }).schema as {
    readonly properties?: Properties
    readonly required?: Array<string>
  }
  return {
    message,
    requestedSchema: {
      type: "object",
      properties: json.properties ?? {},
      ...(json.required !== undefined && json.required.length > 0 ? { required: json.required } : {})
    }
  }
}

/** The accepted answer decoded by the form's schema; undefined when declined, cancelled or not what was asked. */
export const acceptedAnswer = <S extends FormSchema>(schema: S, answer: ElicitAnswer): S["Type"] | undefined =>
  answer.action === "accept" ? Option.getOrUndefined(Schema.decodeUnknownOption(schema)(answer.content ?? {})) : undefined
