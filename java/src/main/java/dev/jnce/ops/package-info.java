/**
 * Operations that are not losses but that losses are built from, each with its gradient:
 * softmax and its relatives, normalisation and similarity. Same conventions as
 * {@link dev.jnce.loss}: PyTorch's names and meanings, every argument checked in Java.
 */
package dev.jnce.ops;
